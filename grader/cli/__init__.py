"""Thin command-line layer: parse, call the core, render. Exit statuses are mapped only here."""
