"""What text the database can store: no NUL (PostgreSQL refuses it), no lone surrogates
(not encodable as UTF-8)."""


def unstorable(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
