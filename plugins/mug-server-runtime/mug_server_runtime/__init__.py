"""The ``server`` runtime: a GymScene's env steps on the study server, frames stream to pages."""

__version__ = "0.1.0"
