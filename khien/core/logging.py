"""Log filter that masks secrets before any handler sees them."""
import logging
import re

_SECRET_PATTERNS = [
    re.compile(r"(?i)(authorization:\s*(?:token|bearer|basic)\s+)\S+"),
    re.compile(r"(?i)((?:password|passwd|token|secret|otp_token|api_key)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,]+"),
    re.compile(r"kh[ns]_[A-Za-z0-9_\-]{20,}"),  # API tokens, alert-source keys (also glued to other text: "%0Akhn_…")
]


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call must not break logging
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
