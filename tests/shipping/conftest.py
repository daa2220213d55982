from tests.notify.conftest import inline_jobs, private_targets_allowed, smtp  # noqa: F401
