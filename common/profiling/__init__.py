"""The setup's profile of a table: column profiles, correlations, clustering and the flag summary
(profiles, written to patterns/detected_patterns.json), and the setup's PNG plots (plots).
"""
