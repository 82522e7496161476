"""The test suite (a package, so that its support modules import by name: ``tests.support.helpers``)."""
