from __future__ import annotations

from vivace.http import status


def test_codes_and_phrases() -> None:
    assert status.HTTP_200_OK == 200
    assert status.HTTP_413_CONTENT_TOO_LARGE == status.HTTP_413_REQUEST_ENTITY_TOO_LARGE == 413
    assert status.WS_1009_MESSAGE_TOO_BIG == 1009
    assert status.reason_phrase(413) == "Content Too Large"
    assert status.reason_phrase(421) == "Misdirected Request"
    assert status.reason_phrase(599) == ""
    assert all(isinstance(k, int) and v for k, v in status.REASON_PHRASES.items())
