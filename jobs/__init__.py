"""The job contract (request/result types, queues, submit, sweeper). Built by the pipeline issue."""
