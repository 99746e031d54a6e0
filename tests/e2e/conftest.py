"""Fixtures of the e2e tier: one local SparkSession per Spark test module.

Per module, so that the Spark parity tests can sit in two modules that xdist runs on its two
workers at once (`--dist loadfile`), instead of one module that ends the suite alone.

The session's JVM starts with tests/helpers/spark.py's FAST_JVM flags (client compiler only,
one GC thread): about a third less CPU for the Spark modules; what Spark computes does not change.
"""

from __future__ import annotations

import os
import signal

import pytest

from tests.helpers.spark import FAST_JVM


@pytest.fixture(scope="module")
def spark():
    before = signal.getsignal(signal.SIGINT)
    from handler.spark_job.__main__ import local_session

    with pytest.MonkeyPatch.context() as patch:
        if "PYSPARK_SUBMIT_ARGS" not in os.environ:  # someone's own launcher options win
            patch.setenv("PYSPARK_SUBMIT_ARGS", FAST_JVM)
        session = local_session("local[2]")  # SparkContext installs its own SIGINT handler
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    _shut_down_the_jvm()
    # A later test in this process that sends itself SIGINT (test_local_commands) must not reach
    # pyspark's handler, which cancels jobs on a context that no longer exists.
    signal.signal(signal.SIGINT, before)


def _shut_down_the_jvm() -> None:
    """Leave no thread or JVM behind for later test modules.

    SparkSession.stop() keeps the py4j gateway: its finalizer thread polls with time.sleep,
    which a later test that patches time.sleep (test_status's --watch test) would see
    called from that thread. Shutting the gateway down ends the thread; closing the JVM's
    stdin ends the JVM (pyspark's gateway server exits on EOF).
    """
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    if gateway is None:
        return
    gateway.shutdown()
    process = getattr(gateway, "proc", None)
    if process is not None and process.stdin is not None:
        process.stdin.close()
        process.wait(timeout=60)
    SparkContext._gateway = None
    SparkContext._jvm = None
