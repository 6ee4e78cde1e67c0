"""The runtime's one error type."""


class BundleError(Exception):
    """A bundle, checkpoint or model file that cannot be used, naming the file and the
    problem. Everything read from a bundle is untrusted: sizes are checked before anything is
    allocated, and bad values end here rather than in a crash."""

    def __init__(self, path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem
