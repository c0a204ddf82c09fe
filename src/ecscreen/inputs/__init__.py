"""ecscreen.inputs."""
