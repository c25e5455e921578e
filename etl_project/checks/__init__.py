"""Asset checks: data-quality and business rules evaluated on the assets."""
