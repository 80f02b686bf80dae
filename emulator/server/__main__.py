"""`python -m emulator.server [--port N] [--workspace DIR]`: the endpoint without the sfn-local CLI."""

from emulator.server.serve import serve_command

serve_command.main(prog_name="python -m emulator.server")
