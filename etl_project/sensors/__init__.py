"""Sensors: new batch files to load runs, failed sales-drop checks to Slack."""
