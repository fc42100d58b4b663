enum _PacerStorePlaceholder {}
