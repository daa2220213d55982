"""The intake pages need the intake's sample master data and templates."""

from tests.intake.conftest import _fresh_intake_caches, intake_actor, master  # noqa: F401 (fixtures)
