"""Differentiable primitives, each a Function with its forward and backward side by side."""
