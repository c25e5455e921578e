-- Scratch space of running loads (issue: speed at scale). A load stages its file in UNLOGGED tables here,
-- named load_<load number>_part<k> and load_<load number>_rejections, committed at once so that both of the
-- load's connections read them, and drops them when it ends (the next load drops those of a killed process).
-- Nothing here is ever read by anyone but the load that wrote it; the event tables change only in the load's
-- own transaction.
CREATE SCHEMA IF NOT EXISTS etl_staging;
