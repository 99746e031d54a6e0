"""The Lambda function's code: shipped as the deployment zip, importable by tests."""
