enum _PacerAgentPlaceholder {}
