"""lifeboat"""
