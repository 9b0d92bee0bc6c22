"""register-dr: disaster recovery for the Register trainee teachers Postgres database."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
