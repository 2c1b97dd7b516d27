"""Pipeline stages: thin scripts that read params.yaml, call knowledge_probe, write outputs atomically."""
