"""The pool's policy (pipeline/pdfshare.py): which waiting call a free worker takes next. Calls are plain records
here (what the pool queues carries more); tests/pipeline/test_pdfpool.py shows the same on real workers."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.pdfshare import FairShare


@dataclass(eq=False)
class Call:
    key: str
    long: bool = False
    heavy: bool = False


def share(workers: int = 2) -> FairShare[Call]:
    return FairShare(workers, heavy_after_s=2.0, long_call_s=0.5)


def test_a_document_runs_one_call_until_a_page_call_has_ended() -> None:
    s = share()
    first, second, third = Call("a"), Call("a"), Call("a")
    for call in (first, second, third):
        s.add(call)
    assert s.take() is first and s.take() is None  # a second worker stays idle: how long a's calls take is unknown
    s.finish(first, 0.01, page_call=True, open_still=True)
    assert s.take() is second and s.take() is third  # known to be short now: every worker


def test_opening_does_not_prove_a_document() -> None:
    s = share()
    opening, page, other = Call("a"), Call("a"), Call("a")
    s.add(opening)
    assert s.take() is opening
    s.finish(opening, 0.01, page_call=False, open_still=True)
    s.add(page)
    s.add(other)
    assert s.take() is page and s.take() is None


def test_one_long_call_makes_a_document_heavy_and_a_worker_stays_free() -> None:
    s = share()
    calls = [Call("hostile") for _ in range(4)]
    for call in calls:
        s.add(call)
    assert s.take() is calls[0]
    s.finish(calls[0], 0.9, page_call=True, open_still=True)  # over long_call_s, far from heavy_after_s
    assert s.take() is calls[1] and calls[1].heavy
    assert s.take() is None  # all workers but one hold heavy calls: the last one waits for a light call
    light = Call("light")
    s.add(light)
    assert s.take() is light and not light.heavy


def test_a_call_known_to_be_long_leaves_a_worker_free() -> None:
    s = share()
    big, other_big, light = Call("scan-1", long=True), Call("scan-2", long=True), Call("text")
    s.add(big)
    s.add(other_big)
    assert s.take() is big and big.heavy
    assert s.take() is None
    s.add(light)
    assert s.take() is light
    s.finish(big, 1.0, page_call=True, open_still=True)
    assert s.take() is other_big


def test_the_least_served_document_goes_first_and_a_closed_one_is_forgotten() -> None:
    s = share(workers=1)
    a1, b1, a2, b2 = Call("a"), Call("b"), Call("a"), Call("b")
    for call in (a1, b1):
        s.add(call)
    assert s.take() is a1
    s.finish(a1, 0.3, page_call=True, open_still=True)
    s.add(a2)
    assert s.take() is b1  # b had no worker time yet
    s.finish(b1, 0.1, page_call=True, open_still=True)
    s.add(b2)
    assert s.take() is b2 and s.served("a") == 0.3  # 0.1 < 0.3: b again
    s.finish(b2, 0.05, page_call=True, open_still=True)
    s.forget("a")
    assert s.served("a") == 0.0 and s.take() is a2 and s.queued == 0 and s.busy == 1


def test_a_withdrawn_call_is_never_taken() -> None:
    s = share()
    call = Call("a")
    s.add(call)
    assert s.withdraw(call) and not s.withdraw(call) and s.take() is None and s.queued == 0
