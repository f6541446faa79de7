"""The paper reproduction: the run suite, the results report and the test-set bootstrap.

Experiment code beside the library: it imports `tagnn_tf`, never the reverse.
Binaries: `python -m experiments.reproduce`, `python -m experiments.make_report`,
`python -m experiments.measure_uncertainty`.
"""
