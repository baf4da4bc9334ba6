"""SAM's networks as plain ``nn.Module`` classes, one per file.

Parameter names and shapes follow the official SAM and MobileSAM checkpoints, so
``load_state_dict(strict=True)`` is the contract that keeps them honest.
"""
