"""The inbound budget of a websocket (serve/wsbounds.py), on a hand-driven clock: a per-message limit, a burst,
a refill rate, and a cost per message beyond its bytes."""

from __future__ import annotations

from serve.settings import Settings
from serve.wsbounds import MESSAGE_OVERHEAD, InboundBudget, message_size


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_message_over_the_limit_is_refused_as_too_big() -> None:
    budget = InboundBudget(max_message_bytes=4096, bytes_per_s=1000, burst_bytes=65536)
    assert budget.admit(4096) is None
    refused = budget.admit(4097)
    assert refused is not None and refused.code == 1009 and "4097 bytes" in refused.reason


def test_the_burst_then_the_rate() -> None:
    clock = Clock()
    budget = InboundBudget(
        max_message_bytes=1000, bytes_per_s=1000, burst_bytes=10 * (100 + MESSAGE_OVERHEAD), clock=clock
    )
    assert all(budget.admit(100) is None for _ in range(10))  # the burst
    refused = budget.admit(100)
    assert refused is not None and refused.code == 1008 and len(refused.reason.encode()) <= 123
    clock.now += (100 + MESSAGE_OVERHEAD) / 1000  # refilled by one message's cost
    assert budget.admit(100) is None
    assert budget.admit(0) is not None  # an empty message costs its overhead
    clock.now += 3600  # a long quiet time refills up to the burst, no further
    assert all(budget.admit(100) is None for _ in range(10)) and budget.admit(100) is not None


def test_docling_clients_next_every_update_is_far_within_the_defaults() -> None:
    clock, s = Clock(), Settings()
    budget = InboundBudget(s.ws_max_message_bytes, s.ws_inbound_bytes_per_s, s.ws_inbound_burst_bytes, clock=clock)
    for _ in range(10_000):  # 'next' four times a second (an update every 0.25 s) for 40 minutes
        clock.now += 0.25
        assert budget.admit(len("next")) is None


def test_message_size_counts_utf8_bytes() -> None:
    assert message_size({"type": "websocket.receive", "text": "next"}) == 4
    assert message_size({"type": "websocket.receive", "text": "é" * 10}) == 20
    assert message_size({"type": "websocket.receive", "bytes": b"\0" * 7}) == 7
