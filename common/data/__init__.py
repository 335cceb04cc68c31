"""The table as the pipeline understands it: column typing and feature categories (schema), TCP
flag columns (flags), the train/holdout split and `DatasetContext`
(pipeline: table + schema + rules, from the setup's outputs or computed alike).
"""
