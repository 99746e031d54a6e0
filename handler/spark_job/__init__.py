"""The pipeline on Spark (AWS Glue): the handler's computation for inputs past one function.

Same options, same semantics, same errors (handler/errors.py), same run folder and
latest.json contract as the Lambda handler; the cleaned table is written as part files
listed in a manifest. Nothing here is imported by the handler, and the Lambda package
leaves this folder out (dataops_cli/packaging.py): pyspark is not in the function.
"""
