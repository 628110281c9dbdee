"""Executable notes: the interview-question catalogue, experiments that test its claims, and the
``deepnotes notes`` command (list, show, run, quiz).

This package is a leaf: it imports the rest of deepnotes, nothing in deepnotes imports it (except the
command line, which hands ``deepnotes notes ...`` to :mod:`deepnotes.notes.cli`).
"""
