"""fifo-gate library: everything the Lambda functions run, behind thin handlers in ``app.py``."""
