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
from .dispatch import (
    inbound_process,
    inbound_process_pending,
    inbound_replay,
    inbound_replay_failed,
)
from .inbox import inbound_receive

__all__ = [
    "alias_set", "channel_save", "compiled_config", "config_install_templates", "config_save",
    "current_config", "inbound_process", "inbound_process_pending", "inbound_receive", "inbound_replay",
    "inbound_replay_failed", "profile_set",
]

from .upload import email_upload, upload_import, upload_receive, upload_run  # noqa: E402

__all__ += ["email_upload", "upload_import", "upload_receive", "upload_run"]

from .background import upload_finish, upload_resume, upload_start  # noqa: E402

__all__ += ["upload_finish", "upload_resume", "upload_start"]

from .webhook import webhook_mode, webhook_receive, webhook_signature  # noqa: E402

__all__ += ["webhook_mode", "webhook_receive", "webhook_signature"]

from .drafts import draft_confirm, draft_discard, draft_from_document  # noqa: E402
from .email import EMAIL_CHANNEL, ImapSettings, email_poll, email_process, email_receive  # noqa: E402

__all__ += ["EMAIL_CHANNEL", "ImapSettings", "draft_confirm", "draft_discard", "draft_from_document", "email_poll",
            "email_process", "email_receive"]

from .quick import (  # noqa: E402
    portal_order_submit,
    quick_customer,
    quick_lines_problems,
    quick_link_issue,
    quick_order_submit,
    quick_qr,
    quick_refused,
)

__all__ += ["portal_order_submit", "quick_customer", "quick_lines_problems", "quick_link_issue", "quick_order_submit", "quick_qr", "quick_refused"]

from .refusals import refusal_record, refusals_prune  # noqa: E402

__all__ += ["refusal_record", "refusals_prune"]

from .triage import TriageAlert, triage, triage_record  # noqa: E402

__all__ += ["TriageAlert", "triage", "triage_record"]
