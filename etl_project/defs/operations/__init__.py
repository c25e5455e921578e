"""Keeping the platform healthy: batch_partition_retention_sensor (sensors.py) and its PartitionRetention
setting (resources.py).
"""
