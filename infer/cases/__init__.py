"""Cases: parcels of one seller linked across sender names, so one liaison decision covers them.

`records` reads and normalises parcel records (no Splink needed), `link` links them with Splink
(the `cases` extra), `pooling` turns members' counterfeit scores into one score per case.
"""
