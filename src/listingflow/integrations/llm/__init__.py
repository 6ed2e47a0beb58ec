"""LLM engines behind one Protocol (base.LLMEngine): the OpenAI-compatible client (Groq, OpenAI,
Ollama, vLLM, LM Studio), with its prompt, invented-facts guard and limit repairs.
"""
