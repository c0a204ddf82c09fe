from ecscreen.cli.main import run

run()
