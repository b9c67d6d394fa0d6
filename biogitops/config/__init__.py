"""What the repository declares: environment settings, lab files, pins, and the YAML schema checker they share."""
