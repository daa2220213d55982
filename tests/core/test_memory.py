import gc
import threading

import pytest

from orderhub.core.memory import collector_paused

pytestmark = pytest.mark.smoke


def test_collector_is_paused_inside_and_restored_after_the_last_block():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_blocks_in_threads_restore_once_the_last_ends():
    entered, release = threading.Event(), threading.Event()

    def other():
        with collector_paused():
            entered.set()
            release.wait(5)

    t = threading.Thread(target=other)
    with collector_paused():
        t.start()
        entered.wait(5)
    assert not gc.isenabled()      # the other thread's block is still open
    release.set()
    t.join(5)
    assert gc.isenabled()


def test_an_error_inside_still_restores_and_a_disabled_collector_stays_disabled():
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
