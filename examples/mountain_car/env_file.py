# The environment initialization file: MUG runs it in the participant's browser (Pyodide) and
# takes the global `env`.
from mountain_car_env import MountainCarMUG

env = MountainCarMUG()
