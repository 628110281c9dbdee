"""Per-layer rule tables keyed by module class or class name (used for costs and receptive fields)."""


def register(table, keys):
    """A decorator storing its rule in ``table`` under each key (a class, or a class name so that a rule
    can wait for a layer that does not exist yet)."""

    def deco(rule):
        for key in keys:
            table[key] = rule
        return rule

    return deco


def lookup(table, module):
    """The rule for ``module``: by class, then class name, along the MRO (subclasses inherit), or None."""
    for cls in type(module).__mro__:
        rule = table.get(cls) or table.get(cls.__name__)
        if rule is not None:
            return rule
    return None
