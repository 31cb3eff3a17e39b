"""The tax authority's final assessment of a year's income (slutligning, the årsopgørelse):
a simulator (simulator.py) and the hub's client (client.py)."""
