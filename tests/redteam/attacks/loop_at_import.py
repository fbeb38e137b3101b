"""Attack: never finish importing (the loop runs at module level).

Expect: timeout
The start-up limit (start_timeout_s) ends the import.
"""
while True:
    pass


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    raise AssertionError("never reached")
