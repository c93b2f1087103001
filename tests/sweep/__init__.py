"""The bad-input sweep of issue 5: its framework, registry and file fixtures."""
