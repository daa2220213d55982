"""The intake's writes: receiving raw payloads, processing them through their mapping,
replays, configuration, uploads, e-mail, OCR drafts and quick orders."""

from .config import (
    alias_set,
    channel_save,
    compiled_config,
    config_install_templates,
    config_save,
    current_config,
    profile_set,
)
from .inbox import inbound_process, inbound_receive, inbound_replay, inbound_replay_failed

__all__ = [
    "alias_set", "channel_save", "compiled_config", "config_install_templates", "config_save",
    "current_config", "inbound_process", "inbound_receive", "inbound_replay",
    "inbound_replay_failed", "profile_set",
]

from .upload import upload_import, upload_receive, upload_run  # noqa: E402

__all__ += ["upload_import", "upload_receive", "upload_run"]
