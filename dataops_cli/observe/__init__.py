"""Reading how the pipeline is doing: the dashboard's data and its page (status moves here in issue 21)."""
