"""Model analysis (seeds 000, 001, 003): parameters, MACs and FLOPs per layer, output sizes, receptive
fields, a torchinfo-style summary, and latency/throughput measurement.

    >>> from deepnotes.analysis import profile, summary, measure_latency
    >>> p = profile(model, (3, 224, 224))      # p.params, p.macs, p.flops, p.rows[i].receptive_field
"""

from .complexity import (
    LayerCost,
    LayerProfile,
    ParameterRow,
    ParameterTable,
    Profile,
    cost_rule_for,
    count_parameters,
    parameter_table,
    parse_input_size,
    profile,
    register_cost_rule,
)
from .receptive_field import (
    ReceptiveFieldRow,
    RFInfo,
    conv_output_size,
    pool_output_size,
    receptive_field,
    receptive_field_chain,
    register_rf_rule,
    rf_rule_for,
)
from .summary import ModelSummary, format_count, format_profile, summary
from .timing import LatencyResult, measure_latency

__all__ = [
    "LatencyResult",
    "LayerCost",
    "LayerProfile",
    "ModelSummary",
    "ParameterRow",
    "ParameterTable",
    "Profile",
    "RFInfo",
    "ReceptiveFieldRow",
    "conv_output_size",
    "cost_rule_for",
    "count_parameters",
    "format_count",
    "format_profile",
    "measure_latency",
    "parameter_table",
    "parse_input_size",
    "pool_output_size",
    "profile",
    "receptive_field",
    "receptive_field_chain",
    "register_cost_rule",
    "register_rf_rule",
    "rf_rule_for",
    "summary",
]
