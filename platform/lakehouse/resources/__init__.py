"""Resources: storage layout and connections live here and nowhere else."""
