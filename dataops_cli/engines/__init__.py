"""The engines a pipeline runs on (Lambda, Glue): one interface, chosen once per command from the config."""
