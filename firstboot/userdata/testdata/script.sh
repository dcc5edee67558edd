#!/bin/sh
echo hello from user-data
