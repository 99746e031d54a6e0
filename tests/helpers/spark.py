"""How the tests start Spark's JVM (no imports: tests/e2e/conftest.py reads it in the Lambda lane too).

A test's Spark jobs are many and small, and a JVM spent more CPU compiling their hot code
with its optimising (C2) compiler than running it: with the client compiler only and one
garbage-collector thread, a local session and three runs of the sample took about half the
JVM's CPU time (docs/development.md). The flags change how the JVM compiles and collects,
not what Spark computes. pyspark's launcher reads them from PYSPARK_SUBMIT_ARGS
(pyspark/java_gateway.py); the emulator passes that variable to its Glue runs.
"""

from __future__ import annotations

FAST_JVM = '--driver-java-options "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC" pyspark-shell'
