"""The production topology (AWS CDK app) and its assertion tests."""
