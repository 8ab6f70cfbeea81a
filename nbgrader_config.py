# nbgrader looks for its configuration in the folder it runs in; the course's lives in autograder/.
import os

load_subconfig(os.path.join(os.path.dirname(os.path.abspath(__file__)), "autograder", "nbgrader_config.py"))  # noqa: F821
