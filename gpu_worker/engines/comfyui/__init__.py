"""The ``comfyui`` engine: stylized swaps through a ComfyUI server's HTTP + websocket API."""
